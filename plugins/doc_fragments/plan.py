# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # The review-then-apply workflow of the modules that declare credentials (module_utils/_saved_plan.py).
    DOCUMENTATION = r"""
options:
  plan_file:
    description:
      - Write the plan of this run to this file as JSON, atomically, in check mode too (the file is the output of
        a review, not a change). It holds the steps (as rows and as the plan for people), what each
        credential will look like, and the state the plan was made from (the live credentials, what each store
        holds, a SHA-256 of each declaration with its secret options masked).
      - The file holds no secret value. Review it, then carry it out with O(apply_plan).
      - The directory must exist. Mutually exclusive with O(apply_plan).
    type: path
  apply_plan:
    description:
      - Carry out the plan saved by O(plan_file) only if nothing it was made from has moved since. The run
        plans again and compares, before any change, the API and context, every declaration, every live
        credential the plan looked at (status, permissions, validity...), what each store holds, and each
        credential's steps (a rotation that fell due since, a grace period that ended).
      - When anything moved, the task fails naming each difference and the credential it concerns (RV(moved)),
        and changes nothing. Make a new plan and review it.
      - Mutually exclusive with O(plan_file).
    type: path
"""
