"""Statistics (统计): indicators and dashboards of the sector and the platform."""
