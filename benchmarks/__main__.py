"""`python -m benchmarks`: run the whole benchmark and print one table."""

from benchmarks.run import main

raise SystemExit(main())
