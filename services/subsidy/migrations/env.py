from services.subsidy import models  # noqa: F401  (registers every table on the metadata)
from services.subsidy.settings import SubsidySettings
from shared.migrate import run_env

run_env(models.Base.metadata, lambda: SubsidySettings().database_url)
