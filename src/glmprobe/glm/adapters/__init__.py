"""Family adapters, one module per family.

Each module registers its class with :func:`glmprobe.glm.adapter.register`; the registry
(:data:`glmprobe.glm.adapter.FAMILIES`) imports the modules listed in ``FAMILY_MODULES`` on
first lookup. Add a family by writing a module here and adding its name to that tuple.
"""
