# Written by hand (what makemigrations would write): tickets remember the bot
# key that opened them and its idempotency key, unique per bot key, so a
# repeated POST tickets/ returns the first ticket.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('support', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='ticket',
            name='opened_by',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='support.botkey', verbose_name='opened by'),
        ),
        migrations.AddField(
            model_name='ticket',
            name='idempotency_key',
            field=models.CharField(blank=True, editable=False, max_length=128, null=True, verbose_name='idempotency key'),
        ),
        migrations.AddConstraint(
            model_name='ticket',
            constraint=models.UniqueConstraint(fields=('opened_by', 'idempotency_key'), name='support_ticket_idempotency_key'),
        ),
    ]
