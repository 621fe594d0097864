"""TechBridge: an open platform for a city's science-and-technology services sector (科技服务业)."""

__version__ = "0.1.0"
