"""Pure statistics: numbers and count tables in, named results out. No Flask, no database."""
