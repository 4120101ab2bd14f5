// gomap/version.h must compile on its own, first and alone, as C++ with
// -Wall -Wextra -Werror, and then beside the umbrella header.
#include <gomap/version.h>
#include <gomap.h>
static_assert(GOMAP_VERSION_NUMBER ==
                  GOMAP_VERSION_MAJOR * 10000 + GOMAP_VERSION_MINOR * 100 + GOMAP_VERSION_PATCH,
              "GOMAP_VERSION_NUMBER");
const char *gomap_header_check_version_cxx();
const char *gomap_header_check_version_cxx() { return gomap_version(); }
