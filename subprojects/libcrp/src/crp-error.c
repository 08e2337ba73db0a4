/* crp-error.c: the libcrp GError domain. */
#include "crp/crp-error.h"

G_DEFINE_QUARK(crp-error-quark, crp_error)
