from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.staticfiles.views import serve
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from support.login_throttle import ThrottledAdminAuthenticationForm, ThrottledAuthenticationForm

# The admin's sign-in says so when failed attempts have paused it.
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="support:manager-console", permanent=False)),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="support/login.html", authentication_form=ThrottledAuthenticationForm
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("support/", include("support.urls")),
    # The console's static files, straight from the apps, with DEBUG off too:
    # enough for the example under daphne. A deployment serves STATIC_ROOT
    # from nginx after `collectstatic` instead (docs/deployment.md).
    re_path(
        rf"^{settings.STATIC_URL.lstrip('/')}(?P<path>.*)$",
        serve,
        {"insecure": True},
    ),
]
