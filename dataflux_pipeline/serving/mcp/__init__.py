"""The catalog as MCP tools and resources for language-model agents, on the official SDK.

`server.build_server` puts the REST routes' own service objects behind tools; a call acts
as one principal and sees exactly what that principal sees through the REST API. The
same server runs over stdio (`dataflux mcp`, cli/mcp.py) and over streamable HTTP at
/mcp on the service (`http.McpEndpoint`)."""
