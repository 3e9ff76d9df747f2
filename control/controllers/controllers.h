/*
 * controllers.h - every controller capstan-controller-manager can run, for
 * main.c's table (cm_controllers[]). Each is defined in its own file.
 */
#ifndef CAPSTAN_CONTROLLERS_CONTROLLERS_H
#define CAPSTAN_CONTROLLERS_CONTROLLERS_H

#include "control/controllers/cm.h"

extern const struct controller replicaset_controller;	 /* replicaset.c */
extern const struct controller deployment_controller;	 /* deployment.c */
extern const struct controller daemonset_controller;	 /* daemonset.c */
extern const struct controller endpointslice_controller; /* endpointslice.c */
extern const struct controller nodelifecycle_controller; /* nodelifecycle.c */
extern const struct controller nodeipam_controller;	 /* nodeipam.c */
extern const struct controller namespace_controller;	 /* namespace.c */
extern const struct controller gc_controller;		 /* gc.c */

#endif
