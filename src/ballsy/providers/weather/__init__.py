"""Weather forecasts from Open-Meteo (no key): geocoding and daily forecasts."""
