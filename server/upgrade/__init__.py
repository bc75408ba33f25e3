"""``recode-upgrade``: plan a library upgrade, migrate a copy of the project, and prove it with
the project's own tests.

The steps, one module each: :mod:`.plan` (the target set, resolved by pip, and the knowledge
base's findings at it), :mod:`.venvs` (cached throwaway environments), :mod:`.testrun` (the test
command and its JUnit XML), :mod:`.causes` (test errors mapped to knowledge-base records),
:mod:`.workspace` (the copy that is migrated), :mod:`.outcome` (what the tests say, rendered)
and :mod:`.cli`.
"""
