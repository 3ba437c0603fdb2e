"""Code that speaks to Dynamics 365 through the Dataverse Web API."""
