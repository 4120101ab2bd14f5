/* The umbrella header must compile on its own as C11 with -Wall -Wextra -Werror. */
#include <gomap.h>
int gomap_header_check_c(void);
int gomap_header_check_c(void) { return (int)sizeof(gomap_iter); }
