// The umbrella header must compile on its own as C++ with -Wall -Wextra -Werror.
#include <gomap.h>
int gomap_header_check_cxx();
int gomap_header_check_cxx() { return static_cast<int>(sizeof(gomap_iter)); }
