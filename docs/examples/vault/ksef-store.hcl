# The least the hashicorp_vault store needs, for secrets under ksef/ in the KV version 2 mount `secret`.
# The tests load this very file into OpenBao (tests/support/openbao.py) and run the store with it.

# Read the value and write it with check-and-set.
path "secret/data/ksef/*" {
  capabilities = ["create", "read", "update"]
}

# The version to check-and-set against when the latest version is deleted, and the metadata kept next to
# the value (reference number, name, permissions, created, context; never the value).
path "secret/metadata/ksef/*" {
  capabilities = ["read", "update"]
}

# Destroy the versions that hold a removed or revoked value, so the history keeps no revoked credential.
path "secret/destroy/ksef/*" {
  capabilities = ["update"]
}

# Before any change in KSeF, the store asks what this token may do on the paths above.
path "sys/capabilities-self" {
  capabilities = ["update"]
}

# A token the store got by logging in (approle, jwt, cert) is revoked when the task ends.
path "auth/token/revoke-self" {
  capabilities = ["update"]
}
