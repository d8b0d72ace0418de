// SQLCipher: SQLite with every page of the file encrypted (Debian's libsqlcipher-dev).
#include <sqlite3.h>
