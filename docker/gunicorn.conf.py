"""gunicorn configuration for the container: the same options as `alp-cds serve`
(cds_service/serving.py), read from the same environment variables.

gthread workers with worker_connections equal to threads (research/python-stack.md section 4);
the app and knowledge base load before fork (preload); each worker warms up and starts its audit
writer after fork; workers get 20 s to finish in-flight requests on SIGTERM, then drain the writer.
"""

from cds_service.serving import gunicorn_options, prepare_metrics_dir
from cds_service.settings import Settings

_settings = Settings.from_env()
prepare_metrics_dir(_settings.data_dir)  # before the app imports prometheus_client

_options = gunicorn_options(_settings)
bind = _options["bind"]
worker_class = _options["worker_class"]  # gthread, answering its own refusals as JSON
limit_request_field_size = _options["limit_request_field_size"]  # room for a 16 KB JWT
workers = _options["workers"]
threads = _options["threads"]
worker_connections = _options["worker_connections"]
timeout = _options["timeout"]
graceful_timeout = _options["graceful_timeout"]
keepalive = _options["keepalive"]
preload_app = _options["preload_app"]
accesslog = None
loglevel = _options["loglevel"]
child_exit = _options["child_exit"]
pre_fork = _options["pre_fork"]  # the loaded app out of the garbage collector's reach
control_socket_disable = _options["control_socket_disable"]  # no shared gunicorn.ctl


def post_fork(server, worker):
    from cds_service.serving import post_fork_warm_up
    from cds_service.wsgi import app

    post_fork_warm_up(app)(server, worker)  # warm up, then start the worker's audit writer


def worker_exit(server, worker):
    from cds_service.serving import worker_exit_drain
    from cds_service.wsgi import app

    worker_exit_drain(app)(server, worker)  # a graceful stop loads what is spooled
