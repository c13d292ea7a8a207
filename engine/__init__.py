"""DuckDB work shared by the SQL front and the actors: queries over visible rowsets, loads, sync MVs, functions, type mapping, MV refresh."""
