"""Process-wide setup, shared by every process: configuration read once from the environment
and `.env`, logging (config.logs), and ending with the parent process (config.parent_death)."""

from config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
