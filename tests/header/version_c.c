/* gomap/version.h must compile on its own, first and alone, as C11 with
 * -Wall -Wextra -Werror, and then beside the umbrella header. */
#include <gomap/version.h>
#include <gomap.h>
_Static_assert(GOMAP_VERSION_NUMBER ==
                   GOMAP_VERSION_MAJOR * 10000 + GOMAP_VERSION_MINOR * 100 + GOMAP_VERSION_PATCH,
               "GOMAP_VERSION_NUMBER");
const char *gomap_header_check_version_c(void);
const char *gomap_header_check_version_c(void) { return GOMAP_VERSION_STRING; }
