from ballsy.cli import main

main()
