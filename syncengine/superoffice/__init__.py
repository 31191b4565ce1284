"""Reading SuperOffice: an HTTP client with paging, a shared rate budget and retries,
and the typed reads the sync engine needs."""
