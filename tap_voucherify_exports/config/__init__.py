"""Settings: frozen, validated, every problem reported at once naming the setting."""
