"""The template's side of the fence: which files are whose (template.toml), the check, updates from a release."""
