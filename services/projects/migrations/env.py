from services.projects import models  # noqa: F401  (registers every table on the metadata)
from services.projects.settings import ProjectsSettings
from shared.migrate import run_env

run_env(models.Base.metadata, lambda: ProjectsSettings().database_url)
