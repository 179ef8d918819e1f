#ifndef POSTERN_CMARIADB_SHIM_H
#define POSTERN_CMARIADB_SHIM_H
#include <mysql.h>
#include <mysqld_error.h>
#include <errmsg.h>
#endif
