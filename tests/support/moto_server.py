"""`moto_server` with one correction that makes it behave like AWS Secrets Manager for version stages.

AWS: "PutSecretValue ... moves the staging label AWSCURRENT from the previous version" - the version that holds
AWSCURRENT at that moment, wherever UpdateSecretVersionStage put it. moto (5.x) remembers the current version in
`default_version_id` and does not update it when UpdateSecretVersionStage moves AWSCURRENT, so a later
PutSecretValue leaves two versions labelled AWSCURRENT and GetSecretValue answers with the stale one. The
stores' restore-then-rotate path (tests/integration/test_rotation_faults.py) depends on the AWS behaviour.
Everything else is moto unchanged.
"""
from __future__ import annotations

import sys

from moto.secretsmanager import models
from moto.server import main

_update_secret_version_stage = models.SecretsManagerBackend.update_secret_version_stage


def update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
    result = _update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
    if version_stage == "AWSCURRENT" and move_to_version_id:
        self.secrets[secret_id].set_default_version_id(move_to_version_id)
    return result


models.SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage

if __name__ == "__main__":
    sys.exit(main())
