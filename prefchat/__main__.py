from prefchat.cli import main

main()
