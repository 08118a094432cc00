"""One sync run: the engine and each directory's transaction, its reads, record conversion,
the writer, removal detection, the state kept between runs, the runner around them."""
