"""Five-society linkage micro-projects, activities and the monthly station service reports."""
