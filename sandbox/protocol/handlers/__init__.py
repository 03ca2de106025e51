"""One module per API family; each handler takes (context, decoded request) and returns the response object."""
