"""Pipeline stages. One module per stage; pure Arrow functions hold the logic, and a thin
layer (``tasks.runner``) runs them over shards on Ray. No Prefect here: the Prefect task
wrappers live in ``flows/``."""
