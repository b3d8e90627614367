"""The mock government service (a simulation of the VNeID -> provincial police
chain for criminal-record certificates) and the client the bot reaches a
government backend with. Stands alone: it imports only `core` and `domain`."""
