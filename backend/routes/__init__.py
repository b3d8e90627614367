"""The mock's HTTP routes, one router per audience: the citizen API
(`citizen`), the pages people open in a browser (`payment`, `verification`,
`simulator`) and the demo controls (`admin`). `backend.server` assembles them."""
