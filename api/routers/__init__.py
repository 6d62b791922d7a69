"""One router per domain, all mounted under ``/api/v1``.

:data:`ROUTERS` lists them explicitly; :func:`api.app.create_app` mounts them in
this order, which is the order of the operations in ``/docs`` and ``openapi.json``.
"""

from api.routers import (
    chargers,
    fleet,
    health,
    isochrone,
    map_layers,
    matrix,
    metrics,
    operations,
    plan,
    route,
    shuttle,
    stations,
    stops,
    vehicles,
)

#: Every router, in the order of ``/docs``.
ROUTERS = (
    health.router,
    metrics.router,
    plan.router,
    route.router,
    matrix.router,
    isochrone.router,
    stops.router,
    map_layers.router,
    stations.router,
    chargers.router,
    shuttle.router,
    fleet.router,
    vehicles.router,
    operations.router,
)
