/*
 * The root C test layer itself: it runs as root with the tools the node
 * tests rely on (containerd, runc, ip) installed by make deps.
 */
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

TEST(root_layer_has_runtime_tools)
{
	test_require_root();
	ASSERT_MSG(system("command -v containerd >/dev/null && command -v runc >/dev/null && "
			  "command -v ctr >/dev/null && command -v ip >/dev/null") == 0,
		   "containerd, runc, ctr or ip missing (make deps installs them)");
}
