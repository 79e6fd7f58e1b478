from services.gateway import models  # noqa: F401  (registers every table on the metadata)
from services.gateway.settings import GatewaySettings
from shared.migrate import run_env

run_env(models.Base.metadata, lambda: GatewaySettings().database_url)
