from django.contrib import admin

from my_users.models import MyTelegramUser

admin.site.register(MyTelegramUser)
