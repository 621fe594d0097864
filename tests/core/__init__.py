"""The shared core: authorisation rules, money, settings, migrations, the import layers, docs."""
