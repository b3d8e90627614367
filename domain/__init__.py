"""The domain: what is true about LLTP, as sourced and dated data. The fee
rules (`domain.fees`), the knowledge base (`domain.knowledge`) and the
province records (`domain.provinces`), shared by the dialogue (`flows/`) and
the mock government service (`backend/`); the data files are in `data/`."""
