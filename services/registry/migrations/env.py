from services.registry import models  # noqa: F401  (registers every table on the metadata)
from services.registry.settings import RegistrySettings
from shared.migrate import run_env

run_env(models.Base.metadata, lambda: RegistrySettings().database_url)
