"""One sync run: the engine, value conversion, the writer, the runner around them."""
