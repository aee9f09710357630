"""python -m services.payments"""

from services.payments.bootstrap import main

if __name__ == "__main__":
    main()
