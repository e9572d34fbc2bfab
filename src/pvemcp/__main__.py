from pvemcp.cli.main import main

main()
