#ifndef POSTERN_CGPGME_SHIM_H
#define POSTERN_CGPGME_SHIM_H
#include <gpgme.h>
#endif
