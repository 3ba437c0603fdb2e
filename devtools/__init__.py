"""Local development tooling: Azurite, the Dataverse simulator, the local Functions runner, demos."""
