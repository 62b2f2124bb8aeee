from dfkd_bench.cli import main

main()
