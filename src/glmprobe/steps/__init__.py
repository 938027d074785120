"""Step modules on one shared skeleton (see :mod:`glmprobe.steps.skeleton`)."""
