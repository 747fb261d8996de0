"""Pipeline stages. One module per stage; pure Arrow functions hold the logic, and a thin
layer (``tasks.executor``, the only module that imports Ray) runs them over shards. No Prefect here: the Prefect task
wrappers live in ``flows/``."""
