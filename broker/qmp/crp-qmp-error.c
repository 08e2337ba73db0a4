/* crp-qmp-error.c: the CRP_QMP_ERROR domain and QMP's error classes. */
#include "crp-qmp-error.h"

#include <string.h>

G_DEFINE_QUARK(crp-qmp-error-quark, crp_qmp_error)

CrpQmpErrorCode
crp_qmp_error_code_from_class(const char *error_class)
{
    /* QapiErrorClass in QEMU's qapi/error.json. */
    static const struct {
        const char *name;
        CrpQmpErrorCode code;
    } classes[] = {
        { "GenericError", CRP_QMP_ERROR_GENERIC },
        { "CommandNotFound", CRP_QMP_ERROR_COMMAND_NOT_FOUND },
        { "DeviceNotActive", CRP_QMP_ERROR_DEVICE_NOT_ACTIVE },
        { "DeviceNotFound", CRP_QMP_ERROR_DEVICE_NOT_FOUND },
        { "KVMMissingCap", CRP_QMP_ERROR_KVM_MISSING_CAP },
    };

    for (gsize i = 0; error_class && i < G_N_ELEMENTS(classes); i++) {
        if (strcmp(error_class, classes[i].name) == 0) {
            return classes[i].code;
        }
    }
    return CRP_QMP_ERROR_OTHER_CLASS;
}
